/**
 * Reference tables for the synthetic organisation. Proportions are approximate public figures
 * (surname shares from the 2020 census, carrier number segments as allocated by MIIT, administrative
 * division codes per GB/T 2260); they only need to make the data look like the real thing, and they
 * are part of the determinism contract: changing a table changes every generated stream.
 */

/** Splits a whitespace-separated table into rows of `width` cells. */
function rows(text: string, width: number): string[][] {
  const cells = text.trim().split(/\s+/);
  if (cells.length % width !== 0)
    throw new Error(`table: ${cells.length} cells is not a multiple of ${width}`);
  const out: string[][] = [];
  for (let i = 0; i < cells.length; i += width) out.push(cells.slice(i, i + width));
  return out;
}

export interface Syllable {
  readonly han: string;
  readonly pinyin: string;
}

/** Surname, pinyin, share of the population in hundredths of a percent. */
export const SURNAMES: readonly (readonly [Syllable, number])[] = rows(
  `
  王 wang 712   李 li 700     张 zhang 674  刘 liu 510    陈 chen 461   杨 yang 322   黄 huang 245
  赵 zhao 200   吴 wu 197     周 zhou 191   徐 xu 152     孙 sun 151    马 ma 133     朱 zhu 126
  胡 hu 120     郭 guo 115    何 he 110     林 lin 107    高 gao 107    罗 luo 100    郑 zheng 97
  梁 liang 91   谢 xie 82     宋 song 79    唐 tang 78    许 xu 72      韩 han 71     冯 feng 70
  邓 deng 69    曹 cao 67     彭 peng 64    曾 zeng 63    肖 xiao 62    田 tian 60    董 dong 58
  袁 yuan 56    潘 pan 55     于 yu 54      蒋 jiang 53   蔡 cai 52     余 yu 51      杜 du 50
  叶 ye 49      程 cheng 48   苏 su 46      魏 wei 45     吕 lv 44      丁 ding 43    任 ren 42
  沈 shen 41    姚 yao 40     卢 lu 39      姜 jiang 38   崔 cui 37     钟 zhong 36   谭 tan 35
  陆 lu 34      汪 wang 33    范 fan 32     金 jin 31     石 shi 30     廖 liao 29    贾 jia 28
  夏 xia 27     韦 wei 26     付 fu 25      方 fang 25    白 bai 24     邹 zou 24     孟 meng 23
  熊 xiong 23   秦 qin 22     邱 qiu 22     江 jiang 21   尹 yin 21     薛 xue 20     闫 yan 20
  段 duan 19    雷 lei 19     侯 hou 18     龙 long 18    史 shi 17     陶 tao 17     黎 li 16
  贺 he 16      顾 gu 15      毛 mao 15     郝 hao 14     龚 gong 14    邵 shao 14    万 wan 13
  钱 qian 13    严 yan 13     覃 qin 12     武 wu 12      戴 dai 12     莫 mo 11      孔 kong 11
  向 xiang 11   汤 tang 10    欧阳 ouyang 5  司马 sima 1   上官 shangguan 1  诸葛 zhuge 1
  `,
  3,
).map(([han, pinyin, w]) => [{ han: han!, pinyin: pinyin! }, Number(w)] as const);

/** Given-name characters by the sex they are mostly given to (m, f) or either (n). */
const GIVEN = rows(
  `
  伟 wei m  强 qiang m  磊 lei m  军 jun m  勇 yong m  杰 jie m  涛 tao m  斌 bin m  超 chao m
  明 ming m  刚 gang m  平 ping m  辉 hui m  鹏 peng m  华 hua m  飞 fei m  鑫 xin m  波 bo m
  宇 yu m  浩 hao m  凯 kai m  健 jian m  俊 jun m  帆 fan m  帅 shuai m  旭 xu m  宁 ning m
  龙 long m  阳 yang m  建 jian m  国 guo m  志 zhi m  海 hai m  东 dong m  峰 feng m  亮 liang m
  成 cheng m  博 bo m  轩 xuan m  睿 rui m  泽 ze m  航 hang m  毅 yi m  诚 cheng m  德 de m
  振 zhen m  世 shi m  永 yong m  天 tian m  立 li m  鸿 hong m  彬 bin m  卫 wei m  忠 zhong m
  良 liang m  荣 rong m  晨 chen n  文 wen n  子 zi n  嘉 jia n  春 chun n  新 xin n  金 jin n
  一 yi n  晓 xiao n  林 lin n  安 an n  心 xin n  可 ke n  雨 yu n  思 si n  清 qing n  昕 xin n
  芳 fang f  娜 na f  敏 min f  静 jing f  丽 li f  艳 yan f  娟 juan f  霞 xia f  燕 yan f
  玲 ling f  婷 ting f  雪 xue f  慧 hui f  莹 ying f  倩 qian f  琳 lin f  颖 ying f  洁 jie f
  梅 mei f  萍 ping f  红 hong f  欣 xin f  佳 jia f  晶 jing f  秀 xiu f  英 ying f  兰 lan f
  丹 dan f  璐 lu f  瑶 yao f  怡 yi f  悦 yue f  琪 qi f  梦 meng f  涵 han f  诗 shi f
  彤 tong f  蕾 lei f  薇 wei f  琴 qin f  云 yun f  月 yue f  露 lu f  凤 feng f  桂 gui f
  珍 zhen f  淑 shu f  小 xiao f  冰 bing f  妍 yan f
  `,
  3,
);

const given = (sex: 'm' | 'f'): Syllable[] =>
  GIVEN.filter((r) => r[2] === sex || r[2] === 'n').map(([han, pinyin]) => ({ han: han!, pinyin: pinyin! }));
export const GIVEN_MALE: readonly Syllable[] = given('m');
export const GIVEN_FEMALE: readonly Syllable[] = given('f');

export interface District {
  readonly code: string;
  readonly name: string;
  /** Province, city and district as an address begins (a municipality is named once). */
  readonly place: string;
}

export interface Prefecture {
  readonly province: string;
  readonly city: string;
  /** Whether the province is a municipality (北京市…): addresses then name the city once. */
  readonly municipality: boolean;
  /** Relative weight for where people live and companies register (≈ urban population, millions). */
  readonly weight: number;
  readonly districts: readonly District[];
}

/**
 * Prefecture-level divisions with some of their districts and counties (GB/T 2260 codes). Each
 * line: weight, province, city, then code+name pairs. The codes double as the first six digits
 * of resident ID numbers and of unified social credit codes issued there.
 */
const PREFECTURE_TEXT = `
22 北京市 北京市 110101东城区 110102西城区 110105朝阳区 110106丰台区 110108海淀区 110112通州区 110114昌平区 110115大兴区
25 上海市 上海市 310101黄浦区 310104徐汇区 310105长宁区 310106静安区 310107普陀区 310109虹口区 310110杨浦区 310112闵行区 310113宝山区 310115浦东新区
14 天津市 天津市 120101和平区 120102河东区 120103河西区 120104南开区 120116滨海新区
16 重庆市 重庆市 500103渝中区 500105江北区 500106沙坪坝区 500107九龙坡区 500108南岸区 500112渝北区
19 广东省 广州市 440103荔湾区 440104越秀区 440105海珠区 440106天河区 440111白云区 440113番禺区
18 广东省 深圳市 440303罗湖区 440304福田区 440305南山区 440306宝安区 440307龙岗区
9 广东省 佛山市 440604禅城区 440605南海区 440606顺德区 440607三水区 440608高明区
6 广东省 茂名市 440902茂南区 440904电白区 440981高州市 440982化州市 440983信宜市
7 广东省 湛江市 440802赤坎区 440803霞山区 440811麻章区 440823遂溪县 440825徐闻县 440881廉江市 440882雷州市
12 浙江省 杭州市 330102上城区 330105拱墅区 330106西湖区 330108滨江区 330109萧山区 330110余杭区
9 浙江省 宁波市 330203海曙区 330205江北区 330206北仑区 330212鄞州区
9 浙江省 温州市 330302鹿城区 330303龙湾区 330304瓯海区 330327苍南县 330381瑞安市 330382乐清市
9 江苏省 南京市 320102玄武区 320104秦淮区 320105建邺区 320106鼓楼区 320115江宁区
13 江苏省 苏州市 320505虎丘区 320506吴中区 320507相城区 320508姑苏区 320509吴江区
7 江苏省 无锡市 320211滨湖区 320213梁溪区 320214新吴区
9 江苏省 徐州市 320302鼓楼区 320303云龙区 320311泉山区 320312铜山区 320321丰县 320322沛县 320324睢宁县 320382邳州市
21 四川省 成都市 510104锦江区 510105青羊区 510106金牛区 510107武侯区 510108成华区
6 四川省 南充市 511302顺庆区 511303高坪区 511304嘉陵区 511321南部县 511322营山县 511381阆中市
13 湖北省 武汉市 420102江岸区 420103江汉区 420104硚口区 420106武昌区 420111洪山区
13 陕西省 西安市 610102新城区 610103碑林区 610104莲湖区 610112未央区 610113雁塔区
10 湖南省 长沙市 430102芙蓉区 430103天心区 430104岳麓区 430105开福区 430111雨花区
7 湖南省 邵阳市 430502双清区 430503大祥区 430511北塔区 430522新邵县 430524隆回县 430525洞口县 430582邵东市
13 河南省 郑州市 410102中原区 410103二七区 410104管城回族区 410105金水区
9 河南省 周口市 411602川汇区 411621扶沟县 411622西华县 411623商水县 411624沈丘县 411625郸城县 411627太康县 411628鹿邑县
10 河南省 南阳市 411302宛城区 411303卧龙区 411321南召县 411322方城县 411324镇平县 411328唐河县 411381邓州市
8 河南省 商丘市 411402梁园区 411403睢阳区 411421民权县 411422睢县 411425虞城县 411481永城市
9 山东省 济南市 370102历下区 370103市中区 370104槐荫区 370105天桥区 370112历城区
10 山东省 青岛市 370202市南区 370203市北区 370211黄岛区 370212崂山区 370213李沧区
11 山东省 临沂市 371302兰山区 371311罗庄区 371312河东区 371321沂南县 371322郯城县 371323沂水县 371326平邑县
9 辽宁省 沈阳市 210102和平区 210103沈河区 210104大东区 210105皇姑区 210106铁西区
7 辽宁省 大连市 210202中山区 210203西岗区 210204沙河口区 210211甘井子区
10 黑龙江省 哈尔滨市 230102道里区 230103南岗区 230104道外区 230110香坊区
9 吉林省 长春市 220102南关区 220103宽城区 220104朝阳区 220105二道区
11 河北省 石家庄市 130102长安区 130104桥西区 130105新华区 130108裕华区
11 河北省 保定市 130602竞秀区 130606莲池区 130607满城区 130681涿州市
5 山西省 太原市 140105小店区 140106迎泽区 140107杏花岭区
9 安徽省 合肥市 340102瑶海区 340103庐阳区 340104蜀山区 340111包河区
8 安徽省 阜阳市 341202颍州区 341203颍东区 341204颍泉区 341221临泉县 341222太和县 341225阜南县 341282界首市
8 福建省 福州市 350102鼓楼区 350103台江区 350104仓山区
5 福建省 厦门市 350203思明区 350206湖里区 350211集美区
6 江西省 南昌市 360102东湖区 360103西湖区 360111青山湖区
9 江西省 赣州市 360702章贡区 360703南康区 360704赣县区 360722信丰县 360731于都县 360732兴国县 360781瑞金市
9 广西壮族自治区 南宁市 450102兴宁区 450103青秀区 450105江南区
8 云南省 昆明市 530102五华区 530103盘龙区 530111官渡区 530112西山区
6 贵州省 贵阳市 520102南明区 520103云岩区 520115观山湖区
7 贵州省 遵义市 520302红花岗区 520303汇川区 520304播州区 520322桐梓县 520328湄潭县 520382仁怀市
4 甘肃省 兰州市 620102城关区 620103七里河区
4 新疆维吾尔自治区 乌鲁木齐市 650102天山区 650103沙依巴克区
3 内蒙古自治区 呼和浩特市 150102新城区 150103回民区 150105赛罕区
3 海南省 海口市 460105秀英区 460106龙华区 460108美兰区
3 宁夏回族自治区 银川市 640104兴庆区 640106金凤区
2 青海省 西宁市 630102城东区 630103城中区
1 西藏自治区 拉萨市 540102城关区
`;

export const PREFECTURES: readonly Prefecture[] = PREFECTURE_TEXT.trim()
  .split('\n')
  .map((line) => {
    const [weight, province, city, ...ds] = line.trim().split(/\s+/);
    return {
      province: province!,
      city: city!,
      municipality: province === city,
      weight: Number(weight),
      districts: ds.map((d) => ({
        code: d.slice(0, 6),
        name: d.slice(6),
        place: (province === city ? city! : province! + city!) + d.slice(6),
      })),
    };
  });

/** Every district with its prefecture, in table order: the region axis of generated ID numbers. */
export const DISTRICTS: readonly { readonly prefecture: Prefecture; readonly district: District }[] =
  PREFECTURES.flatMap((prefecture) => prefecture.districts.map((district) => ({ prefecture, district })));

/**
 * Mainland mobile number segments (first three digits) by carrier, with relative weights that
 * favour the older, fuller 13x/15x/18x segments. 170/171/162/165/167 are the virtual-operator
 * segments: ordinary numbers, and the natural place for an organisation's monitored canary range.
 */
// 149 is left out: libphonenumber-js (the vault's cn_mobile validator) rejects part of its range,
// and a generated customer must always import.
export const MOBILE_SEGMENTS: readonly (readonly [prefix: string, carrier: string, weight: number])[] = rows(
  `
  134 cmcc 3  135 cmcc 4  136 cmcc 4  137 cmcc 4  138 cmcc 5  139 cmcc 5  147 cmcc 0.5  150 cmcc 3
  151 cmcc 3  152 cmcc 3  157 cmcc 1  158 cmcc 3  159 cmcc 3  172 cmcc 0.5  178 cmcc 1  182 cmcc 3
  183 cmcc 2  184 cmcc 1  187 cmcc 3  188 cmcc 3  195 cmcc 0.5  197 cmcc 0.3  198 cmcc 1.5
  130 unicom 3  131 unicom 3  132 unicom 3  145 unicom 0.3  155 unicom 2  156 unicom 2  166 unicom 1
  175 unicom 1  176 unicom 1.5  185 unicom 2  186 unicom 3  196 unicom 0.3
  133 telecom 3  153 telecom 2  173 telecom 1  177 telecom 1.5  180 telecom 2
  181 telecom 2  189 telecom 3  190 telecom 0.5  191 telecom 1  193 telecom 0.8  199 telecom 1.5
  192 broadnet 0.5  170 virtual 0.3  171 virtual 0.3  162 virtual 0.1  165 virtual 0.1  167 virtual 0.1
  `,
  3,
).map(([p, c, w]) => [p!, c!, Number(w)] as const);

/** Free-mail domains with rough shares among Chinese consumers. */
export const EMAIL_DOMAINS: readonly (readonly [string, number])[] = [
  ['qq.com', 30],
  ['163.com', 22],
  ['126.com', 9],
  ['sina.com', 5],
  ['foxmail.com', 5],
  ['gmail.com', 5],
  ['outlook.com', 4],
  ['hotmail.com', 3],
  ['139.com', 4],
  ['sohu.com', 3],
  ['aliyun.com', 3],
  ['yeah.net', 3],
  ['189.cn', 2],
  ['icloud.com', 2],
];

/** English words people use for mail handles when not using their name. */
export const HANDLE_WORDS: readonly string[] =
  'sunny lucky happy tiger dragon angel star moon rain cool ice blue sky wind snow leaf apple cherry panda lion summer winter forever dream smile little king queen'.split(
    ' ',
  );

/** Characters of shop and company trade names (字号). */
export const TRADE_CHARS: readonly string[] = [
  ...'华信达恒通盛鼎瑞博创智联源泰宏兴锐德新天安和中科海金远升腾云星汇润嘉昊顺鑫宇晟峰众诚力建美佳合凯康',
];

export const INDUSTRIES: readonly (readonly [string, number])[] = [
  ['网络科技', 12],
  ['信息技术', 10],
  ['电子商务', 8],
  ['软件', 6],
  ['贸易', 9],
  ['建筑工程', 6],
  ['餐饮管理', 5],
  ['文化传媒', 5],
  ['物流', 5],
  ['医疗器械', 3],
  ['教育咨询', 4],
  ['机械设备', 4],
  ['食品', 4],
  ['服装', 3],
  ['房地产开发', 2],
  ['投资管理', 3],
  ['广告', 3],
  ['环保科技', 2],
  ['新能源', 2],
  ['汽车销售', 2],
  ['生物科技', 2],
  ['数据服务', 3],
];

export const COMPANY_SUFFIXES: readonly (readonly [string, number])[] = [
  ['有限公司', 85],
  ['有限责任公司', 10],
  ['股份有限公司', 5],
];

export const ROADS: readonly string[] = [
  ...'人民 解放 中山 建设 和平 新华 长江 黄河 胜利 文化 学院 朝阳 青年 东风 光明 团结 幸福 迎宾 世纪 科技 工业 滨江 府前 南京 北京 延安 复兴 振兴 金融 湖滨 花园 体育 健康 文三 教工 天目山 江南 紫荆 翠苑 望江'.split(
    ' ',
  ),
];
export const ROAD_SUFFIXES: readonly (readonly [string, number])[] = [
  ['路', 60],
  ['街', 15],
  ['大道', 12],
  ['东路', 5],
  ['西路', 4],
  ['中路', 4],
];
export const ESTATE_SUFFIXES: readonly string[] = [
  '花园',
  '小区',
  '苑',
  '家园',
  '公寓',
  '新村',
  '名苑',
  '华庭',
];

/**
 * Issuer identification numbers of large Chinese banks' cards (debit unless noted) with the card
 * length used under them. Real-looking, not a claim about any real card.
 */
export const CARD_BINS: readonly (readonly [bin: string, length: number, bank: string, weight: number])[] = [
  ['622202', 19, 'ICBC', 12],
  ['621226', 19, 'ICBC', 6],
  ['621700', 19, 'CCB', 10],
  ['436742', 19, 'CCB', 4],
  ['622848', 19, 'ABC', 10],
  ['621661', 19, 'BOC', 7],
  ['621483', 16, 'CMB', 6],
  ['622588', 16, 'CMB credit', 3],
  ['622262', 19, 'BOCOM', 5],
  ['621098', 19, 'PSBC', 6],
];
